# Plans the staging environment with its own terraform.tfvars against a mocked AWS provider.

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

run "staging_is_production_like" {
  command = plan

  assert {
    condition     = output.summary.nat_gateways == 3 && length(output.summary.azs) == 3
    error_message = "staging mirrors prod's three AZs with a NAT per AZ."
  }
  assert {
    condition     = toset(output.summary.capacity_types) == toset(["ON_DEMAND"]) && !output.summary.endpoint_public_access
    error_message = "staging is on-demand with a private API endpoint."
  }
}
