output "snapshot_restore_role_arn" {
  description = "IAM role for the snapshot-restore service accounts (annotate them with eks.amazonaws.com/role-arn when using IRSA). Null when disabled."
  value       = one(aws_iam_role.snapshot_restore[*].arn)
}

output "snapshot_restore_service_accounts" {
  description = "Kubernetes service accounts (namespace/name) the snapshot-restore role trusts; the Helm chart must use exactly these."
  value       = [for sa in var.snapshot_restore.service_accounts : "${sa.namespace}/${sa.name}"]
}

output "snapshot_bucket_arn" {
  description = "The one bucket the snapshot-restore role may read."
  value       = local.bucket_arn
}

output "load_balancer_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller (serviceAccount.annotations.eks.amazonaws.com/role-arn). Null when disabled."
  value       = one(aws_iam_role.load_balancer_controller[*].arn)
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role for the Cluster Autoscaler (rbac.serviceAccount.annotations.eks.amazonaws.com/role-arn). Null when disabled."
  value       = one(aws_iam_role.cluster_autoscaler[*].arn)
}

output "loki" {
  description = "Loki storage: bucket names (loki.storage.bucketNames) and the IRSA role of its service account. Null when disabled."
  value = var.loki.enabled ? {
    chunks_bucket = aws_s3_bucket.loki["chunks"].bucket
    ruler_bucket  = aws_s3_bucket.loki["ruler"].bucket
    role_arn      = aws_iam_role.loki[0].arn
  } : null
}

output "irsa_service_accounts" {
  description = "Role (cluster-autoscaler, loki) -> the only service account (namespace/name) its trust policy admits."
  value       = { for k, v in local.irsa_roles : k => "${v.namespace}/${v.service_account}" }
}
