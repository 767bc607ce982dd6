# Host settings a pool asks for (bootstrap), as a shell part of MIME multipart user data: on
# AL2023 managed nodes EKS appends its own nodeadm part, and shell parts run before the node joins.
locals {
  bootstrap_scripts = { for name, g in local.groups : name => join("\n", compact([
    "#!/bin/bash",
    "set -euo pipefail",
    length(g.bootstrap.sysctls) == 0 ? "" : <<-EOT
      cat >/etc/sysctl.d/90-nodeops.conf <<'EOF'
      %{for k, v in g.bootstrap.sysctls~}
      ${k} = ${v}
      %{endfor~}
      EOF
      sysctl --system
    EOT
    ,
    g.bootstrap.nofile == null ? "" : <<-EOT
      # Containers inherit containerd's open-file limit.
      mkdir -p /etc/systemd/system/containerd.service.d
      printf '[Service]\nLimitNOFILE=%d\n' ${g.bootstrap.nofile} >/etc/systemd/system/containerd.service.d/90-nodeops-nofile.conf
      systemctl daemon-reload
    EOT
    ,
    g.bootstrap.memlock == null ? "" : <<-EOT
      # And its locked-memory limit (Agave >= 3.0 fails to start below ~2 GB: CHANGELOG 3.0.0).
      mkdir -p /etc/systemd/system/containerd.service.d
      printf '[Service]\nLimitMEMLOCK=%d\n' ${g.bootstrap.memlock} >/etc/systemd/system/containerd.service.d/90-nodeops-memlock.conf
      systemctl daemon-reload
    EOT
    ,
    g.bootstrap.instance_store_mount == null ? "" : <<-EOT
      # Instance-store NVMe disks: one RAID0 array, XFS, mounted for hostPath volumes.
      mnt=${coalesce(g.bootstrap.instance_store_mount, "-")}
      mapfile -t disks < <(ls /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_* 2>/dev/null | grep -v -- -part || true)
      if ((${"$"}{#disks[@]} == 0)); then echo "no instance-store NVMe disks" >&2; exit 1; fi
      if ((${"$"}{#disks[@]} == 1)); then dev=${"$"}{disks[0]}; else
        dev=/dev/md/nodeops
        [[ -e $dev ]] || mdadm --create $dev --level=0 --raid-devices=${"$"}{#disks[@]} "${"$"}{disks[@]}" --run
      fi
      blkid "$dev" >/dev/null || mkfs.xfs -f "$dev"
      mkdir -p "$mnt"
      mountpoint -q "$mnt" || mount -o noatime "$dev" "$mnt"
      chown 10001:10001 "$mnt"
    EOT
  ])) }
  has_bootstrap = { for name, g in local.groups : name => length(g.bootstrap.sysctls) > 0 || g.bootstrap.nofile != null || g.bootstrap.memlock != null || g.bootstrap.instance_store_mount != null }
}

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

  user_data = !local.has_bootstrap[each.key] ? null : base64encode(<<-EOT
    MIME-Version: 1.0
    Content-Type: multipart/mixed; boundary="==NODEOPS=="

    --==NODEOPS==
    Content-Type: text/x-shellscript; charset="us-ascii"

    ${local.bootstrap_scripts[each.key]}

    --==NODEOPS==--
  EOT
  )

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
