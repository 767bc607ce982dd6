data "aws_iam_policy_document" "snapshot_restore_assume" {
  count = local.snapshot_on ? 1 : 0

  dynamic "statement" {
    for_each = var.oidc_provider_arn != null ? [1] : []
    content {
      sid     = "IRSA"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${coalesce(var.oidc_provider, "-")}:sub"
        values   = local.service_account
      }
      condition {
        test     = "StringEquals"
        variable = "${coalesce(var.oidc_provider, "-")}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_pod_identity ? [1] : []
    content {
      sid     = "PodIdentity"
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
    }
  }
}

data "aws_iam_policy_document" "snapshot_restore" {
  count = local.snapshot_on ? 1 : 0

  statement {
    sid       = "LocateBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "ListSnapshots"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    dynamic "condition" {
      for_each = local.whole_bucket ? [] : [1]
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = flatten([for p in local.snapshot.prefixes : [p, "${p}*"]])
      }
    }
  }

  statement {
    sid       = "ReadSnapshots"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = local.whole_bucket ? ["${local.bucket_arn}/*"] : [for p in local.snapshot.prefixes : "${local.bucket_arn}/${p}*"]
  }

  dynamic "statement" {
    for_each = local.snapshot.kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptSnapshots"
      actions   = ["kms:Decrypt"]
      resources = [local.snapshot.kms_key_arn]
      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["s3.*.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "snapshot_restore" {
  count = local.snapshot_on ? 1 : 0

  name_prefix          = "${substr(var.name, 0, 20)}-snapshot-restore-"
  description          = "Read chain snapshots from s3://${local.snapshot.bucket_name}"
  assume_role_policy   = data.aws_iam_policy_document.snapshot_restore_assume[0].json
  max_session_duration = 3600
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = (var.oidc_provider_arn != null && var.oidc_provider != null) || var.enable_pod_identity
      error_message = "The snapshot-restore role needs IRSA (oidc_provider_arn and oidc_provider) or Pod Identity."
    }
  }
}

resource "aws_iam_role_policy" "snapshot_restore" {
  count = local.snapshot_on ? 1 : 0

  name   = "read-snapshot-bucket"
  role   = aws_iam_role.snapshot_restore[0].id
  policy = data.aws_iam_policy_document.snapshot_restore[0].json
}

resource "aws_eks_pod_identity_association" "snapshot_restore" {
  for_each = local.snapshot_on && var.enable_pod_identity ? { for sa in local.snapshot.service_accounts : "${sa.namespace}/${sa.name}" => sa } : {}

  cluster_name    = var.cluster_name
  namespace       = each.value.namespace
  service_account = each.value.name
  role_arn        = aws_iam_role.snapshot_restore[0].arn
  tags            = var.tags
}
