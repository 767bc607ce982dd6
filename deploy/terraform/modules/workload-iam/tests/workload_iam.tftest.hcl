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
