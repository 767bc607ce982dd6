# Plans the dev environment with its own terraform.tfvars against a mocked AWS provider.

mock_provider "aws" {
  source = "../_shared/mocks" # mock data and the EBS key override, the same for every environment
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
    condition     = alltrue([for k, p in output.node_pools : p.chain == null || (p.min_size == 0 && p.max_size <= 2)])
    error_message = "dev chain pools stay small: from zero up to two nodes, one for blue and one for green (tests/deploy/deploy_checks.py scheduling checks they fit)."
  }
}
