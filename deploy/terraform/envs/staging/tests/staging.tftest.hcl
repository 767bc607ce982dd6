# Plans the staging environment with its own terraform.tfvars against a mocked AWS provider.

mock_provider "aws" {
  source = "../_shared/mocks" # mock data and the EBS key override, the same for every environment
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
