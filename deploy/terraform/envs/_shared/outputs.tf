# Everything the Helm layer needs. `terraform output -json helm` is the one object to feed it.

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the Kubernetes API."
  value       = module.eks.cluster_certificate_authority_data
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider ARN (IRSA)."
  value       = module.eks.oidc_provider_arn
}

output "cluster_kms_key_arn" {
  description = "KMS key encrypting Kubernetes Secrets and control-plane logs."
  value       = module.eks.cluster_kms_key_arn
}

output "ebs_kms_key_arn" {
  description = "KMS key for the gp3 StorageClass (parameters.kmsKeyId) and node root volumes."
  value       = module.eks.ebs_kms_key_arn
}

output "ebs_csi_role_arn" {
  description = "IAM role of the EBS CSI driver (already wired to the add-on)."
  value       = module.eks.ebs_csi_role_arn
}

output "snapshot_restore_role_arn" {
  description = "IRSA role for the snapshot-restore service account (eks.amazonaws.com/role-arn annotation)."
  value       = module.workload_iam.snapshot_restore_role_arn
}

output "load_balancer_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller (kube-system/aws-load-balancer-controller)."
  value       = module.workload_iam.load_balancer_controller_role_arn
}

output "node_role_arn" {
  description = "IAM role of the worker nodes."
  value       = module.node_groups.node_role_arn
}

output "vpc_id" {
  description = "VPC ID."
  value       = module.network.vpc_id
}

output "vpc_cidr" {
  description = "VPC CIDR."
  value       = module.network.vpc_cidr
}

output "private_subnet_ids" {
  description = "Private subnets (nodes, internal load balancers)."
  value       = module.network.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnets (internet-facing ALB for the gateway)."
  value       = module.network.public_subnet_ids
}

output "intra_subnet_ids" {
  description = "Intra subnets (control-plane ENIs)."
  value       = module.network.intra_subnet_ids
}

output "node_security_group_id" {
  description = "Security group of every node."
  value       = module.security_groups.node_security_group_id
}

output "p2p_security_group_ids" {
  description = "P2P security group per chain."
  value       = module.security_groups.p2p_security_group_ids
}

output "nat_public_ips" {
  description = "Egress IPs of the private subnets."
  value       = module.network.nat_public_ips
}

output "node_pools" {
  description = "Per pool: labels, taints, capacity type and bounds (nodeSelector/tolerations for the charts)."
  value       = module.node_groups.node_groups
}

output "summary" {
  description = "The environment's shape at a glance (also what the env tests assert)."
  value = {
    environment            = var.environment
    azs                    = module.network.azs
    nat_gateways           = module.network.nat_gateway_count
    endpoint_public_access = coalesce(var.endpoint.public_access, false)
    deletion_protection    = var.deletion_protection
    capacity_types         = distinct([for g in values(module.node_groups.node_groups) : g.capacity_type])
  }
}

output "helm" {
  description = "The values the Helm layer consumes, in one object: `terraform output -json helm`."
  value = {
    region                    = var.region
    cluster_name              = module.eks.cluster_name
    cluster_endpoint          = module.eks.cluster_endpoint
    oidc_provider_arn         = module.eks.oidc_provider_arn
    ebs_kms_key_arn           = module.eks.ebs_kms_key_arn
    snapshot_restore_role_arn = module.workload_iam.snapshot_restore_role_arn
    snapshot_service_accounts = module.workload_iam.snapshot_restore_service_accounts
    lb_controller_role_arn    = module.workload_iam.load_balancer_controller_role_arn
    autoscaler_role_arn       = module.workload_iam.cluster_autoscaler_role_arn
    loki_role_arn             = module.workload_iam.loki.role_arn
    loki_chunks_bucket        = module.workload_iam.loki.chunks_bucket
    loki_ruler_bucket         = module.workload_iam.loki.ruler_bucket
    waf_acl_arn               = one(aws_wafv2_web_acl.gateway[*].arn)
    gateway_inbound_cidrs     = var.gateway_edge.inbound_cidrs
    acm_certificate_arn       = var.gateway_certificate_arn
    vpc_id                    = module.network.vpc_id
    snapshot_bucket           = var.snapshot_restore.bucket_name
    public_subnet_ids         = module.network.public_subnet_ids
    private_subnet_ids        = module.network.private_subnet_ids
    vpc_cidr                  = module.network.vpc_cidr
    node_pools = { for k, p in module.node_groups.node_groups : k => {
      node_selector = { "nodeops.io/pool" = k }
      tolerations   = [for t in p.taints : { key = t.key, operator = "Equal", value = t.value, effect = t.effect }]
    } }
  }
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for this cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "edge" {
  description = "The gateway's public edge: WAF web ACL (null when off) and its rules."
  value = {
    waf_enabled   = var.gateway_edge.waf_enabled
    waf_rules     = [for r in flatten(aws_wafv2_web_acl.gateway[*].rule) : r.name]
    rate_limit    = var.gateway_edge.rate_limit_per_5m
    inbound_cidrs = var.gateway_edge.inbound_cidrs
  }
}

output "vpc_cni_configuration" {
  description = "configuration_values of the vpc-cni add-on, decoded (enableNetworkPolicy must be \"true\")."
  value       = module.eks.vpc_cni_configuration
}

output "bootstrap_scripts" {
  description = "Per pool with host settings: the script its launch template runs before the node joins."
  value       = module.node_groups.bootstrap_scripts
}

output "workload_identities" {
  description = "Workload IAM roles Terraform creates, by role, with the one service account each trusts."
  value       = module.workload_iam.irsa_service_accounts
}
