# Offline tests for the eks module: mocked AWS provider, plan only (plan with the
# deletion-protection guard on must never be applied by a test: its teardown would be refused).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

override_resource {
  target          = aws_kms_key.ebs
  override_during = plan
  values          = { arn = "arn:aws:kms:eu-west-1:123456789012:key/ebs" }
}

override_resource {
  target          = aws_kms_key.cluster
  override_during = plan
  values          = { arn = "arn:aws:kms:eu-west-1:123456789012:key/cluster" }
}

override_resource {
  target          = aws_iam_role.ebs_csi
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:role/ebs-csi" }
}

variables {
  cluster_name                  = "nodeops-test"
  vpc_id                        = "vpc-0123456789abcdef0"
  control_plane_subnet_ids      = ["subnet-a", "subnet-b", "subnet-c"]
  additional_security_group_ids = ["sg-cluster"]
}

run "secure_defaults" {
  command = plan

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_private_access && !aws_eks_cluster.this.vpc_config[0].endpoint_public_access
    error_message = "The API endpoint must be private by default."
  }
  assert {
    condition     = aws_eks_cluster.this.encryption_config[0].resources == toset(["secrets"]) && aws_eks_cluster.this.encryption_config[0].provider[0].key_arn == "arn:aws:kms:eu-west-1:123456789012:key/cluster"
    error_message = "Secrets must be envelope-encrypted with the cluster KMS key."
  }
  assert {
    condition     = aws_kms_key.cluster.enable_key_rotation && aws_kms_key.ebs.enable_key_rotation
    error_message = "KMS keys must rotate."
  }
  assert {
    condition     = aws_kms_key.cluster.deletion_window_in_days == 30 && aws_kms_key.ebs.deletion_window_in_days == 30
    error_message = "With deletion protection, KMS keys keep the 30-day window."
  }
  assert {
    condition     = toset(aws_eks_cluster.this.enabled_cluster_log_types) == toset(["api", "audit", "authenticator", "controllerManager", "scheduler"])
    error_message = "All control-plane log types should be on by default."
  }
  assert {
    condition     = aws_cloudwatch_log_group.cluster.kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/cluster" && aws_cloudwatch_log_group.cluster.retention_in_days == 90
    error_message = "Control-plane logs must be encrypted and expire."
  }
  assert {
    condition     = aws_eks_cluster.this.access_config[0].authentication_mode == "API" && !aws_eks_cluster.this.access_config[0].bootstrap_cluster_creator_admin_permissions
    error_message = "Access must come from access entries, not from whoever ran apply."
  }
  assert {
    condition     = !aws_eks_cluster.this.bootstrap_self_managed_addons
    error_message = "Add-ons are managed, not bootstrapped."
  }
  assert {
    condition     = length(terraform_data.deletion_protection) == 1
    error_message = "Deletion protection must be on by default."
  }
  assert {
    condition     = length(aws_iam_openid_connect_provider.this) == 1 && aws_iam_openid_connect_provider.this[0].client_id_list == toset(["sts.amazonaws.com"])
    error_message = "IRSA needs the OIDC provider with the STS audience."
  }
}

run "addons_and_ebs_csi_iam" {
  command = plan

  assert {
    condition     = toset(keys(aws_eks_addon.before_compute)) == toset(["vpc-cni", "kube-proxy", "eks-pod-identity-agent"])
    error_message = "vpc-cni, kube-proxy and the Pod Identity agent must be installed before compute."
  }
  assert {
    condition     = toset(keys(aws_eks_addon.this)) == toset(["coredns", "aws-ebs-csi-driver"])
    error_message = "coredns and the EBS CSI driver must wait for nodes."
  }
  assert {
    condition     = jsondecode(aws_eks_addon.before_compute["vpc-cni"].configuration_values).enableNetworkPolicy == "true"
    error_message = "The VPC CNI must enforce NetworkPolicies (enableNetworkPolicy), or every policy the charts create is ignored."
  }
  assert {
    condition     = one(aws_eks_addon.this["aws-ebs-csi-driver"].pod_identity_association) == { service_account = "ebs-csi-controller-sa", role_arn = "arn:aws:iam::123456789012:role/ebs-csi" }
    error_message = "The EBS CSI driver must get its role through Pod Identity."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.ebs_csi.policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    error_message = "The EBS CSI role needs the AWS managed driver policy."
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.ebs_csi_kms.statement :
    s.resources == toset(["arn:aws:kms:eu-west-1:123456789012:key/ebs"])])
    error_message = "The EBS CSI KMS permissions must be scoped to the EBS key."
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.ebs_key.statement :
    contains(s.actions, "kms:CreateGrant") && anytrue([for c in s.condition : c.variable == "kms:GrantIsForAWSResource"])])
    error_message = "The EBS key must let Auto Scaling create grants for encrypted node volumes."
  }
}

run "irsa_only" {
  command = plan

  variables {
    enable_pod_identity = false
  }

  assert {
    condition     = !contains(keys(aws_eks_addon.before_compute), "eks-pod-identity-agent")
    error_message = "No Pod Identity agent when disabled."
  }
  assert {
    condition     = aws_eks_addon.this["aws-ebs-csi-driver"].service_account_role_arn == "arn:aws:iam::123456789012:role/ebs-csi" && length(aws_eks_addon.this["aws-ebs-csi-driver"].pod_identity_association) == 0
    error_message = "Without Pod Identity the EBS CSI driver uses IRSA."
  }
}

run "public_endpoint_when_asked" {
  command = plan

  variables {
    endpoint = { public_access = true, public_access_cidrs = ["203.0.113.0/24"] }
  }

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access && aws_eks_cluster.this.vpc_config[0].public_access_cidrs == toset(["203.0.113.0/24"])
    error_message = "A requested public endpoint is restricted to the given CIDRs."
  }
  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_private_access
    error_message = "The private endpoint stays on."
  }
}

run "access_entries" {
  command = plan

  variables {
    access_entries = {
      admins = {
        principal_arn = "arn:aws:iam::123456789012:role/platform-admin"
        policy_associations = {
          admin = { policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" }
        }
      }
      chain-ops = {
        principal_arn = "arn:aws:iam::123456789012:role/chain-ops"
        policy_associations = {
          edit = {
            policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
            access_scope = { type = "namespace", namespaces = ["ethereum"] }
          }
        }
      }
    }
  }

  assert {
    condition     = aws_eks_access_policy_association.this["admins/admin"].access_scope[0].type == "cluster"
    error_message = "Cluster-scoped association expected."
  }
  assert {
    condition     = aws_eks_access_policy_association.this["chain-ops/edit"].access_scope[0].namespaces == toset(["ethereum"])
    error_message = "Namespace-scoped association expected."
  }
}

run "dev_without_deletion_protection" {
  command = plan

  variables {
    deletion_protection         = false
    kms_deletion_window_in_days = 7
  }

  assert {
    condition     = length(terraform_data.deletion_protection) == 0 && aws_kms_key.ebs.deletion_window_in_days == 7
    error_message = "Throw-away environments can opt out of deletion protection."
  }
}

# --- guards: each run flips a safe value and must be rejected --------------------------------

run "rejects_world_open_public_endpoint" {
  command = plan

  variables {
    endpoint = { public_access = true, public_access_cidrs = ["0.0.0.0/0"] }
  }

  expect_failures = [var.endpoint]
}

run "rejects_public_endpoint_without_allow_list" {
  command = plan

  variables {
    endpoint = { public_access = true }
  }

  expect_failures = [var.endpoint]
}

run "rejects_disabling_audit_log" {
  command = plan

  variables {
    cluster_log_types = ["api"]
  }

  expect_failures = [var.cluster_log_types]
}

run "rejects_no_workload_identity" {
  command = plan

  variables {
    enable_irsa         = false
    enable_pod_identity = false
  }

  expect_failures = [aws_iam_role.ebs_csi]
}

# Replacing the add-on map without the NetworkPolicy switch must be refused, not silently planned.
run "rejects_vpc_cni_without_network_policy" {
  command = plan

  variables {
    addons = {
      vpc-cni            = { before_compute = true }
      kube-proxy         = { before_compute = true }
      coredns            = {}
      aws-ebs-csi-driver = {}
    }
  }

  expect_failures = [var.addons]
}
