# One NodeOps environment: network -> security groups -> EKS -> node groups -> workload IAM.
# The single copy of the environments' root module: envs/<env>/{main,variables,outputs,versions}.tf
# are symlinks to these files, so each env is still a plain root with its own backend.tf and
# terraform.tfvars. Terraform resolves paths from envs/<env>, where "../../modules" is the same
# directory as from here. envs/_shared is not an environment: never init or apply it.

locals {
  tags = merge(var.tags, { "nodeops.io/environment" = var.environment })
}

module "network" {
  source = "../../modules/network"

  name             = var.cluster_name
  cluster_name     = var.cluster_name
  vpc_cidr         = var.network.vpc_cidr
  az_count         = var.network.az_count
  nat_gateway_mode = var.network.nat_gateway_mode
  flow_logs = {
    retention_in_days = var.network.flow_log_retention_in_days
  }
  interface_endpoints = coalesce(var.network.interface_endpoints, ["ecr.api", "ecr.dkr", "sts", "ec2", "logs"])
  tags                = local.tags
}

module "security_groups" {
  source = "../../modules/security-groups"

  name                      = var.cluster_name
  cluster_name              = var.cluster_name
  vpc_id                    = module.network.vpc_id
  vpc_cidr                  = module.network.vpc_cidr
  chains                    = distinct([for g in values(var.node_groups) : g.chain if g.kind == "chain"])
  extra_p2p_ports           = var.extra_p2p_ports
  cluster_api_ingress_cidrs = var.cluster_api_ingress_cidrs
  ssh_ingress_cidrs         = var.ssh_ingress_cidrs
  tags                      = local.tags
}

module "eks" {
  source = "../../modules/eks"

  cluster_name                  = var.cluster_name
  kubernetes_version            = var.kubernetes_version
  support_type                  = var.support_type
  vpc_id                        = module.network.vpc_id
  control_plane_subnet_ids      = module.network.intra_subnet_ids
  additional_security_group_ids = [module.security_groups.cluster_security_group_id]
  endpoint                      = var.endpoint
  access_entries                = var.access_entries
  log_retention_in_days         = var.log_retention_in_days
  deletion_protection           = var.deletion_protection
  kms_deletion_window_in_days   = var.kms_deletion_window_in_days
  zonal_shift                   = var.zonal_shift
  enable_irsa                   = true
  enable_pod_identity           = true
  compute_ready                 = module.node_groups.node_group_ids
  tags                          = local.tags
}

module "node_groups" {
  source = "../../modules/node-groups"

  cluster_name       = module.eks.cluster_name
  kubernetes_version = var.kubernetes_version
  subnet_ids = {
    private = module.network.private_subnet_ids
    public  = module.network.public_subnet_ids
  }
  node_security_group_id = module.security_groups.node_security_group_id
  p2p_security_group_ids = module.security_groups.p2p_security_group_ids
  ebs_kms_key_arn        = module.eks.ebs_kms_key_arn
  allow_spot             = var.allow_spot
  node_groups            = var.node_groups
  tags                   = local.tags
}

module "workload_iam" {
  source = "../../modules/workload-iam"

  name                = var.cluster_name
  cluster_name        = module.eks.cluster_name
  oidc_provider_arn   = module.eks.oidc_provider_arn
  oidc_provider       = module.eks.oidc_provider
  enable_pod_identity = false # IRSA: the chart annotates the service account with the role ARN
  snapshot_restore    = var.snapshot_restore
  load_balancer_controller = {
    enabled    = var.load_balancer_controller_policy_arn != null
    policy_arn = var.load_balancer_controller_policy_arn
  }
  cluster_autoscaler = { enabled = true }
  loki               = { enabled = true, bucket_prefix = "${var.cluster_name}-${var.account_id}-loki", retention_days = var.loki_retention_days }
  tags               = local.tags
}
