# The mocked AWS provider every environment's tests plan against (envs/<env>/tests/*.tftest.hcl:
# mock_provider "aws" { source = "../_shared/mocks" }).

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

# The EBS key ARN feeds a validated node-groups input; give it a real-looking value at plan time.
override_resource {
  target          = module.eks.aws_kms_key.ebs
  override_during = plan
  values          = { arn = "arn:aws:kms:us-east-1:111111111111:key/ebs" }
}

# The WAF web ACL's ARN goes to the Helm layer (helm.waf_acl_arn -> the Ingress annotation that
# associates it with the ALB); give it a value at plan time so the env tests can follow it.
override_resource {
  target          = aws_wafv2_web_acl.gateway
  override_during = plan
  values          = { arn = "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/gateway/00000000" }
}
