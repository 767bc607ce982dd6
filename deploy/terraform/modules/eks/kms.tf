# Two customer-managed keys, both with yearly rotation:
#   cluster - envelope encryption of Kubernetes Secrets and of the control-plane log group
#   ebs     - node root volumes and the persistent volumes of the default StorageClass (Helm sets
#             `kmsKeyId` to ebs_kms_key_arn); EC2 Auto Scaling launches encrypted instances with it
#             and the EBS CSI driver gets its IAM permissions in ebs_csi.tf.

data "aws_iam_policy_document" "cluster_key" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "ControlPlaneLogs"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"]
    }
  }
}

resource "aws_kms_key" "cluster" {
  description             = "${var.cluster_name}: EKS secrets envelope encryption and control-plane logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_protection ? 30 : var.kms_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.cluster_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "cluster" {
  name          = "alias/${var.cluster_name}/eks"
  target_key_id = aws_kms_key.cluster.key_id
}

locals {
  # Managed node groups launch through EC2 Auto Scaling's service-linked role. Naming it by
  # aws:PrincipalArn (not as a Principal) keeps the policy valid in an account where the role does
  # not exist yet.
  autoscaling_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
}

data "aws_iam_policy_document" "ebs_key" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "AutoScalingUsesKeyThroughEC2"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.autoscaling_role_arn]
    }
  }

  statement {
    sid       = "AutoScalingGrantsForAttachedVolumes"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.autoscaling_role_arn]
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

resource "aws_kms_key" "ebs" {
  description             = "${var.cluster_name}: EBS volumes (node root disks, chain data volumes)"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_protection ? 30 : var.kms_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.ebs_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "ebs" {
  name          = "alias/${var.cluster_name}/ebs"
  target_key_id = aws_kms_key.ebs.key_id
}
