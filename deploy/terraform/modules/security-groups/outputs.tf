output "cluster_security_group_id" {
  description = "Additional security group for the EKS control plane ENIs."
  value       = aws_security_group.cluster.id
}

output "node_security_group_id" {
  description = "Security group attached to every worker node."
  value       = aws_security_group.node.id
}

output "p2p_security_group_ids" {
  description = "P2P security group per chain; attach only to that chain's node group."
  value       = { for c, sg in aws_security_group.p2p : c => sg.id }
}

output "ingress_rules" {
  description = "Every ingress rule this module creates (security group, protocol, ports, source), for review."
  value       = local.ingress_rules
}
