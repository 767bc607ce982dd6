output "node_group_ids" {
  description = "IDs of all node groups (pass to the eks module's compute_ready so node-bound add-ons wait for them)."
  value       = [for g in aws_eks_node_group.this : g.id]
}

output "node_groups" {
  description = "Per pool: node group name and ARN, kind, chain, labels, taints and scaling bounds (what Helm values need for nodeSelector/tolerations)."
  value = { for name, g in local.groups : name => {
    node_group_name = aws_eks_node_group.this[name].node_group_name
    arn             = aws_eks_node_group.this[name].arn
    kind            = g.kind
    chain           = g.chain
    capacity_type   = g.capacity_type
    labels          = g.labels
    taints          = [for t in g.taints : { key = t.key, value = t.value, effect = local.k8s_effect[t.effect] }]
    min_size        = g.min_size
    max_size        = g.max_size
  } }
}

output "node_role_arn" {
  description = "IAM role of the worker nodes."
  value       = aws_iam_role.node.arn
}

output "launch_template_ids" {
  description = "Launch template ID per pool."
  value       = { for name, lt in aws_launch_template.this : name => lt.id }
}

output "bootstrap_scripts" {
  description = "Per pool with a bootstrap: the shell script its launch template runs before the node joins (sysctls, nofile, instance-store mount)."
  value       = { for name, script in local.bootstrap_scripts : name => script if local.has_bootstrap[name] }
}
