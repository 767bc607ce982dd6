# Plans the dev environment with its own terraform.tfvars against a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names    = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
      zone_ids = ["use1-az1", "use1-az2", "use1-az4", "use1-az6"]
    }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111111111111" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

# The EBS key ARN feeds a validated node-groups input; give it a real-looking value at plan time.
override_resource {
  target          = module.eks.aws_kms_key.ebs
  override_during = plan
  values          = { arn = "arn:aws:kms:us-east-1:111111111111:key/ebs" }
}

run "dev_is_small_spot_and_single_nat" {
  command = plan

  assert {
    condition     = output.summary.nat_gateways == 1 && length(output.summary.azs) == 2
    error_message = "dev runs two AZs (the EKS minimum) behind a single NAT gateway."
  }
  assert {
    condition     = toset(output.summary.capacity_types) == toset(["SPOT"])
    error_message = "dev runs on SPOT capacity."
  }
  assert {
    condition     = !output.summary.deletion_protection
    error_message = "dev is disposable."
  }
  assert {
    condition     = alltrue([for k, p in output.node_pools : p.chain == null || p.max_size <= 1])
    error_message = "dev chain pools stay at one node at most."
  }
}
