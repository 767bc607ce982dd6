# Who may use the Kubernetes API: EKS access entries (authentication mode API), each with access
# policies scoped to the cluster or to namespaces. Node roles get their entries from EKS itself.
locals {
  access_policy_associations = merge([
    for entry_key, e in var.access_entries : {
      for policy_key, p in e.policy_associations : "${entry_key}/${policy_key}" => {
        entry_key     = entry_key
        principal_arn = e.principal_arn
        policy_arn    = p.policy_arn
        scope_type    = p.access_scope.type
        namespaces    = p.access_scope.namespaces
      }
    }
  ]...)
}

resource "aws_eks_access_entry" "this" {
  for_each = var.access_entries

  cluster_name      = aws_eks_cluster.this.name
  principal_arn     = each.value.principal_arn
  type              = each.value.type
  kubernetes_groups = length(each.value.kubernetes_groups) > 0 ? each.value.kubernetes_groups : null
  tags              = var.tags
}

resource "aws_eks_access_policy_association" "this" {
  for_each = local.access_policy_associations

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.this[each.value.entry_key].principal_arn
  policy_arn    = each.value.policy_arn

  access_scope {
    type       = each.value.scope_type
    namespaces = each.value.scope_type == "namespace" ? each.value.namespaces : null
  }
}
