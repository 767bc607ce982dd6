# Offline tests for the state-bucket bootstrap: mocked AWS provider, plan only.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

run "state_bucket_is_private_versioned_encrypted" {
  command = plan

  assert {
    condition = (aws_s3_bucket_public_access_block.state.block_public_acls && aws_s3_bucket_public_access_block.state.block_public_policy &&
    aws_s3_bucket_public_access_block.state.ignore_public_acls && aws_s3_bucket_public_access_block.state.restrict_public_buckets)
    error_message = "The state bucket must block every kind of public access."
  }
  assert {
    condition     = aws_s3_bucket_versioning.state.versioning_configuration[0].status == "Enabled"
    error_message = "State history needs versioning."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.state.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "State must be encrypted with KMS."
  }
  assert {
    condition     = data.aws_iam_policy_document.state.statement[0].effect == "Deny" && one(data.aws_iam_policy_document.state.statement[0].condition).variable == "aws:SecureTransport"
    error_message = "Plain-HTTP access must be denied."
  }
}

run "rejects_short_state_history" {
  command = plan

  variables {
    noncurrent_version_retention_days = 1
  }

  expect_failures = [var.noncurrent_version_retention_days]
}
