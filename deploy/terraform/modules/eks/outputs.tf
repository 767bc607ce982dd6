output "cluster_name" {
  description = "Name of the EKS cluster, available once the before_compute add-ons (VPC CNI, kube-proxy) are in: node groups that use it cannot come up without a CNI."
  value       = aws_eks_cluster.this.name

  depends_on = [aws_eks_addon.before_compute]
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint (private unless endpoint.public_access)."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the Kubernetes API."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_version" {
  description = "Kubernetes version of the control plane."
  value       = aws_eks_cluster.this.version
}

output "cluster_primary_security_group_id" {
  description = "Security group EKS created for the cluster (attached to control-plane ENIs)."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "cluster_iam_role_arn" {
  description = "IAM role of the control plane."
  value       = aws_iam_role.cluster.arn
}

output "oidc_issuer_url" {
  description = "OIDC issuer URL of the cluster (https://...)."
  value       = local.oidc_issuer_url
}

output "oidc_provider" {
  description = "OIDC issuer without scheme: the prefix of the :sub and :aud condition keys in IRSA trust policies."
  value       = local.oidc_issuer
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider for IRSA (null when enable_irsa is false)."
  value       = one(aws_iam_openid_connect_provider.this[*].arn)
}

output "pod_identity_enabled" {
  description = "Whether the EKS Pod Identity agent is installed."
  value       = var.enable_pod_identity
}

output "cluster_kms_key_arn" {
  description = "KMS key encrypting Kubernetes Secrets and the control-plane logs."
  value       = aws_kms_key.cluster.arn
}

output "ebs_kms_key_arn" {
  description = "KMS key for EBS: node root volumes and the Helm-managed gp3 StorageClass (parameters.kmsKeyId)."
  value       = aws_kms_key.ebs.arn
}

output "ebs_csi_role_arn" {
  description = "IAM role of the EBS CSI controller."
  value       = aws_iam_role.ebs_csi.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the control-plane logs."
  value       = aws_cloudwatch_log_group.cluster.name
}

output "vpc_cni_configuration" {
  description = "configuration_values of the vpc-cni add-on, decoded."
  value       = try(jsondecode(local.addons["vpc-cni"].configuration_values), {})
}
