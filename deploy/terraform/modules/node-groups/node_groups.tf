locals {
  # Cluster Autoscaler: auto-discovery tags and node-template hints so it can scale a pool up from
  # zero knowing the labels and taints its nodes will have.
  autoscaler_tags = { for name, g in local.groups : name => merge(
    {
      "k8s.io/cluster-autoscaler/enabled"             = "true"
      "k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned"
    },
    { for k, v in g.labels : "k8s.io/cluster-autoscaler/node-template/label/${k}" => v },
    { for t in g.taints : "k8s.io/cluster-autoscaler/node-template/taint/${t.key}" => "${coalesce(t.value, "")}:${local.k8s_effect[t.effect]}" },
  ) }
}

resource "aws_eks_node_group" "this" {
  for_each = local.groups

  cluster_name           = var.cluster_name
  node_group_name_prefix = "${each.key}-"
  node_role_arn          = aws_iam_role.node.arn
  version                = var.kubernetes_version
  subnet_ids             = each.value.subnet_ids
  ami_type               = each.value.ami_type
  capacity_type          = each.value.capacity_type
  instance_types         = each.value.instance_types
  labels                 = each.value.labels

  scaling_config {
    min_size     = each.value.min_size
    max_size     = each.value.max_size
    desired_size = each.value.desired_size
  }

  update_config {
    max_unavailable = each.value.max_unavailable
  }

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = aws_launch_template.this[each.key].latest_version
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  node_repair_config {
    enabled = each.value.auto_repair
  }

  tags = merge(var.tags, local.autoscaler_tags[each.key], { "nodeops.io/pool" = each.key })

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [scaling_config[0].desired_size]

    precondition {
      condition     = length(each.value.subnet_ids) > 0 && (each.value.subnet_indexes == null || length(each.value.subnet_ids) == length(coalesce(each.value.subnet_indexes, [])))
      error_message = "Node group ${each.key}: no subnets in tier ${each.value.subnet_tier}, or a subnet_index is out of range."
    }
    precondition {
      condition     = each.value.kind != "chain" || contains(keys(var.p2p_security_group_ids), coalesce(each.value.chain, "-"))
      error_message = "Node group ${each.key}: no P2P security group for chain ${coalesce(each.value.chain, "-")} in p2p_security_group_ids."
    }
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}

# Managed node groups do not copy their tags to the Auto Scaling group; the autoscaler reads them there.
resource "aws_autoscaling_group_tag" "this" {
  for_each = merge([for name, tags in local.autoscaler_tags : {
    for k, v in tags : "${name}|${k}" => { group = name, key = k, value = v }
  }]...)

  autoscaling_group_name = aws_eks_node_group.this[each.value.group].resources[0].autoscaling_groups[0].name

  tag {
    key                 = each.value.key
    value               = each.value.value
    propagate_at_launch = false
  }
}
