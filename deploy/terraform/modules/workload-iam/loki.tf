# Loki's object storage: a chunks and a ruler bucket (private, encrypted, expiring after the
# retention), and the IRSA role of monitoring/loki that may use exactly these two buckets.
locals {
  loki_buckets = var.loki.enabled ? { chunks = "${var.loki.bucket_prefix}-chunks", ruler = "${var.loki.bucket_prefix}-ruler" } : {}
}

resource "aws_s3_bucket" "loki" {
  for_each = local.loki_buckets

  bucket        = each.value
  force_destroy = false
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "loki" {
  for_each = local.loki_buckets

  bucket                  = aws_s3_bucket.loki[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "loki" {
  for_each = local.loki_buckets

  bucket = aws_s3_bucket.loki[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "loki" {
  for_each = local.loki_buckets

  bucket = aws_s3_bucket.loki[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.loki.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.loki.kms_key_arn
    }
    bucket_key_enabled = var.loki.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "loki" {
  for_each = { for k, v in local.loki_buckets : k => v if k == "chunks" }

  bucket = aws_s3_bucket.loki[each.key].id
  rule {
    id     = "retention"
    status = "Enabled"
    filter {}
    expiration {
      days = var.loki.retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "loki" {
  count = var.loki.enabled ? 1 : 0

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket"]
    resources = [for b in values(local.loki_buckets) : "arn:${local.partition}:s3:::${b}"]
  }
  statement {
    sid       = "ReadWriteObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for b in values(local.loki_buckets) : "arn:${local.partition}:s3:::${b}/*"]
  }
  dynamic "statement" {
    for_each = var.loki.kms_key_arn != null ? [1] : []
    content {
      sid       = "UseBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.loki.kms_key_arn]
    }
  }
}

resource "aws_iam_role" "loki" {
  count = var.loki.enabled ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 20)}-loki-"
  description        = "Loki (${var.loki.namespace}/${var.loki.service_account}): its chunks and ruler buckets"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume["loki"].json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = var.oidc_provider_arn != null && var.oidc_provider != null
      error_message = "The Loki role uses IRSA: pass oidc_provider_arn and oidc_provider."
    }
  }
}

resource "aws_iam_role_policy" "loki" {
  count = var.loki.enabled ? 1 : 0

  name   = "loki-buckets"
  role   = aws_iam_role.loki[0].id
  policy = data.aws_iam_policy_document.loki[0].json
}
