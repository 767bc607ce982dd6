account_id        = "111111111111" # replace
region            = "us-east-1"
state_bucket_name = "nodeops-terraform-state" # must be globally unique: add a suffix
