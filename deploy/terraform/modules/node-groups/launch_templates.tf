resource "aws_launch_template" "this" {
  for_each = local.groups

  name_prefix            = "${var.cluster_name}-${each.key}-"
  description            = "${var.cluster_name} ${each.key} nodes (${each.value.kind})"
  update_default_version = true
  ebs_optimized          = true

  # Private pools: security groups directly. Public chain pools: a primary interface with a public
  # IP, so peers can dial in without a NAT or load balancer in the path.
  vpc_security_group_ids = each.value.subnet_tier == "private" ? each.value.security_group_ids : null

  dynamic "network_interfaces" {
    for_each = each.value.subnet_tier == "public" ? [1] : []
    content {
      device_index                = 0
      associate_public_ip_address = true
      delete_on_termination       = true
      security_groups             = each.value.security_group_ids
    }
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = each.value.root_volume.size_gib
      iops                  = each.value.root_volume.iops
      throughput            = each.value.root_volume.throughput
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = each.value.imds_hop_limit
    instance_metadata_tags      = "disabled"
  }

  monitoring {
    enabled = each.value.detailed_monitoring
  }

  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume", "network-interface"])
    content {
      resource_type = tag_specifications.value
      tags          = merge(var.tags, { Name = "${var.cluster_name}-${each.key}", "nodeops.io/pool" = each.key })
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}
