# Managed node groups for a NodeOps cluster. Every pool gets its own launch template (IMDSv2 only,
# hop limit 1, encrypted gp3 root volume, detailed monitoring) and the labels and taints that keep
# chain nodes, the gateway and system add-ons on separate instances.

locals {
  tier_subnets = { private = var.subnet_ids.private, public = var.subnet_ids.public }
  k8s_effect   = { NO_SCHEDULE = "NoSchedule", NO_EXECUTE = "NoExecute", PREFER_NO_SCHEDULE = "PreferNoSchedule" }

  groups = { for name, g in var.node_groups : name => merge(g, {
    desired_size = coalesce(g.desired_size, g.min_size)

    labels = merge(
      { "nodeops.io/pool" = name, "nodeops.io/kind" = g.kind },
      g.kind == "chain" ? { "nodeops.io/chain" = g.chain } : {},
      g.labels,
    )

    # The dedicated taint comes first and cannot be dropped: only pods that tolerate it land here.
    taints = concat(
      g.kind == "gateway" ? [{ key = "nodeops.io/pool", value = "gateway", effect = "NO_SCHEDULE" }] : [],
      g.kind == "chain" ? [{ key = "nodeops.io/chain", value = g.chain, effect = "NO_SCHEDULE" }] : [],
      g.taints,
    )

    security_group_ids = concat(
      [var.node_security_group_id],
      g.kind == "chain" && contains(keys(var.p2p_security_group_ids), coalesce(g.chain, "-")) ? [var.p2p_security_group_ids[g.chain]] : [],
    )

    subnet_ids = [
      for i in coalesce(g.subnet_indexes, range(length(local.tier_subnets[g.subnet_tier]))) :
      local.tier_subnets[g.subnet_tier][i] if i < length(local.tier_subnets[g.subnet_tier])
    ]
  }) }
}
