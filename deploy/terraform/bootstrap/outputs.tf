output "state_bucket" {
  description = "Name of the state bucket (the environments' backend bucket)."
  value       = aws_s3_bucket.state.bucket
}

output "backend_config" {
  description = "Arguments for `terraform init` in an environment when the bucket name differs from backend.tf."
  value       = "-backend-config=bucket=${aws_s3_bucket.state.bucket} -backend-config=region=${var.region}"
}
