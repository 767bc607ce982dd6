# Remote state in S3 with native lock files (Terraform >= 1.10). The bucket is created once per
# account by deploy/terraform/bootstrap (docs/deploy.md, step 2); bucket names are global, so pass
# yours with `terraform init -backend-config="bucket=<name>"` if it differs.
terraform {
  backend "s3" {
    bucket       = "nodeops-terraform-state"
    key          = "envs/prod/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
