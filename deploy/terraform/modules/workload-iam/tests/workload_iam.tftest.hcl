# Offline tests for the workload-iam module: mocked AWS provider, plan only.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name              = "nodeops-test"
  cluster_name      = "nodeops-test"
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
  oidc_provider     = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
  snapshot_restore = {
    bucket_name = "nodeops-snapshots"
    prefixes    = ["ethereum/", "polygon/"]
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/snap"
  }
}

run "read_only_on_one_bucket" {
  command = plan

  assert {
    condition = alltrue(flatten([for s in data.aws_iam_policy_document.snapshot_restore[0].statement : [
      for r in s.resources : r == "arn:aws:kms:eu-west-1:123456789012:key/snap" || startswith(r, "arn:aws:s3:::nodeops-snapshots")
    ]]))
    error_message = "Every statement must target the one snapshot bucket (or its KMS key)."
  }
  assert {
    condition = alltrue(flatten([for s in data.aws_iam_policy_document.snapshot_restore[0].statement : [
      for a in s.actions : contains(["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:GetObjectVersion", "kms:Decrypt"], a)
    ]]))
    error_message = "The snapshot role must be read-only."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.snapshot_restore[0].statement : s.resources if s.sid == "ReadSnapshots"]) == toset([
      "arn:aws:s3:::nodeops-snapshots/ethereum/*", "arn:aws:s3:::nodeops-snapshots/polygon/*"
    ])
    error_message = "Object reads must be limited to the prefixes."
  }
  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.snapshot_restore[0].statement : s.sid == "ListSnapshots" && length(s.condition) == 1])
    error_message = "Listing must be limited to the prefixes."
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.snapshot_restore_assume[0].statement :
      anytrue([for c in s.condition : c.variable == "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub" && toset(c.values) == toset(flatten([for ch in ["ethereum", "polygon", "solana"] : [for p in ["blue", "green"] : "system:serviceaccount:nodes-${ch}:${ch}-${p}"]]))])
    ])
    error_message = "IRSA trust must name the exact service account."
  }
  assert {
    condition     = length(aws_eks_pod_identity_association.snapshot_restore) == 0
    error_message = "No Pod Identity association unless enabled."
  }
}

run "pod_identity" {
  command = plan

  variables {
    oidc_provider_arn   = null
    oidc_provider       = null
    enable_pod_identity = true
  }

  assert {
    condition     = aws_eks_pod_identity_association.snapshot_restore["nodes-ethereum/ethereum-blue"].service_account == "ethereum-blue"
    error_message = "Pod Identity association expected for the service account."
  }
}

run "disabled" {
  command = plan

  variables {
    snapshot_restore = { enabled = false, bucket_name = "nodeops-snapshots" }
  }

  assert {
    condition     = length(aws_iam_role.snapshot_restore) == 0 && output.snapshot_restore_role_arn == null
    error_message = "No role when snapshot restore is off."
  }
}

# --- guards: each run flips a safe value and must be rejected --------------------------------

run "rejects_wildcard_bucket" {
  command = plan

  variables {
    snapshot_restore = { bucket_name = "*" }
  }

  expect_failures = [var.snapshot_restore]
}

run "rejects_wildcard_prefix" {
  command = plan

  variables {
    snapshot_restore = { bucket_name = "nodeops-snapshots", prefixes = ["*"] }
  }

  expect_failures = [var.snapshot_restore]
}

run "rejects_wildcard_service_account" {
  command = plan

  variables {
    snapshot_restore = { bucket_name = "nodeops-snapshots", service_accounts = [{ namespace = "*", name = "*" }] }
  }

  expect_failures = [var.snapshot_restore]
}

run "rejects_role_without_identity_source" {
  command = plan

  variables {
    oidc_provider_arn = null
    oidc_provider     = null
  }

  expect_failures = [aws_iam_role.snapshot_restore]
}

run "load_balancer_controller_role" {
  command = plan

  variables {
    load_balancer_controller = { enabled = true, policy_arn = "arn:aws:iam::123456789012:policy/AWSLoadBalancerControllerIAMPolicy" }
  }

  assert {
    condition     = aws_iam_role_policy_attachment.load_balancer_controller[0].policy_arn == "arn:aws:iam::123456789012:policy/AWSLoadBalancerControllerIAMPolicy"
    error_message = "The controller role gets exactly the given policy."
  }
  assert {
    condition = anytrue([for c in data.aws_iam_policy_document.load_balancer_controller_assume[0].statement[0].condition :
    toset(c.values) == toset(["system:serviceaccount:kube-system:aws-load-balancer-controller"])])
    error_message = "The controller role trusts only its service account."
  }
}

run "rejects_admin_policy_for_load_balancer_controller" {
  command = plan

  variables {
    load_balancer_controller = { enabled = true, policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess" }
  }

  expect_failures = [var.load_balancer_controller]
}

# The autoscaler may describe everything but resize only this cluster's tagged groups; only its
# own service account can assume the role.
run "cluster_autoscaler_scoped_to_own_groups" {
  command = plan

  variables {
    cluster_autoscaler = { enabled = true }
  }

  assert {
    condition = anytrue([for st in data.aws_iam_policy_document.cluster_autoscaler[0].statement :
      toset(st.actions) == toset(["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]) &&
    anytrue([for c in st.condition : c.variable == "aws:ResourceTag/k8s.io/cluster-autoscaler/nodeops-test" && c.values == tolist(["owned"])])])
    error_message = "Scaling actions must be conditioned on the cluster's autoscaler tag."
  }
  assert {
    condition = alltrue([for st in data.aws_iam_policy_document.cluster_autoscaler[0].statement :
    !contains(st.actions, "autoscaling:SetDesiredCapacity") || length(st.condition) > 0])
    error_message = "No unconditioned scaling permission."
  }
  assert {
    condition = anytrue([for c in one(data.aws_iam_policy_document.irsa_assume["cluster-autoscaler"].statement).condition :
    c.variable == "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub" && c.values == tolist(["system:serviceaccount:kube-system:cluster-autoscaler"])])
    error_message = "Only kube-system/cluster-autoscaler may assume the autoscaler role."
  }
}

# Loki: its two buckets exist, are private and encrypted, chunks expire; its role reaches only them.
run "loki_buckets_and_workload_identity" {
  command = plan

  variables {
    loki = { enabled = true, bucket_prefix = "nodeops-test-loki" }
  }

  assert {
    condition     = toset([for b in aws_s3_bucket.loki : b.bucket]) == toset(["nodeops-test-loki-chunks", "nodeops-test-loki-ruler"])
    error_message = "Terraform creates Loki's chunks and ruler buckets."
  }
  assert {
    condition     = alltrue([for b in aws_s3_bucket_public_access_block.loki : b.block_public_acls && b.block_public_policy && b.restrict_public_buckets && b.ignore_public_acls])
    error_message = "Loki's buckets are private."
  }
  assert {
    condition     = alltrue([for e in aws_s3_bucket_server_side_encryption_configuration.loki : one(e.rule).apply_server_side_encryption_by_default[0].sse_algorithm != ""])
    error_message = "Loki's buckets are encrypted."
  }
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.loki["chunks"].rule).expiration[0].days == 30
    error_message = "Chunks expire after the retention."
  }
  assert {
    condition = anytrue([for c in one(data.aws_iam_policy_document.irsa_assume["loki"].statement).condition :
    c.values == tolist(["system:serviceaccount:monitoring:loki"])])
    error_message = "Only monitoring/loki may assume the Loki role."
  }
  assert {
    condition     = alltrue([for st in data.aws_iam_policy_document.loki[0].statement : !contains(st.resources, "*")])
    error_message = "The Loki role reaches its buckets only."
  }
}
