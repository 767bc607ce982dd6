variable "name" {
  description = "Name prefix for every resource of the network (usually the cluster name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "cluster_name" {
  description = "EKS cluster name written into the subnet discovery tags (kubernetes.io/cluster/<name>, karpenter.sh/discovery)."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC. Between /16 and /20 so that the automatic subnet layout has room for pods (VPC CNI gives every pod a VPC address)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR with a prefix length between /16 and /20."
  }
}

variable "az_count" {
  description = "How many availability zones to spread subnets across. EKS needs at least 2; production uses 3."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number between 2 (the EKS minimum) and 6."
  }
}

variable "availability_zones" {
  description = "Explicit availability zone names to use (first az_count are taken). Null picks the first az_count available zones of the region."
  type        = list(string)
  default     = null
}

variable "subnet_cidrs" {
  description = "Explicit subnet CIDRs, one per AZ per tier. Null (the default) derives them from vpc_cidr: private /19s (pods), public /22s, intra /24s, non-overlapping."
  type = object({
    public  = list(string)
    private = list(string)
    intra   = list(string)
  })
  default = null

  validation {
    condition = var.subnet_cidrs == null ? true : alltrue([
      for c in concat(var.subnet_cidrs.public, var.subnet_cidrs.private, var.subnet_cidrs.intra) : can(cidrhost(c, 0))
    ])
    error_message = "Every entry of subnet_cidrs must be a valid IPv4 CIDR."
  }
}

variable "nat_gateway_mode" {
  description = "NAT gateways for the private subnets: one_per_az (highly available, default), single (one shared NAT, cheap, for dev) or none (no internet egress from private subnets)."
  type        = string
  default     = "one_per_az"

  validation {
    condition     = contains(["one_per_az", "single", "none"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be one_per_az, single or none."
  }
}

variable "flow_logs" {
  description = "VPC flow logs to CloudWatch Logs. On by default; traffic_type ALL records accepted and rejected flows."
  type = object({
    enabled                  = optional(bool, true)
    traffic_type             = optional(string, "ALL")
    retention_in_days        = optional(number, 90)
    kms_key_arn              = optional(string)
    max_aggregation_interval = optional(number, 600)
  })
  default = {}

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_logs.traffic_type)
    error_message = "flow_logs.traffic_type must be ACCEPT, REJECT or ALL."
  }

  validation {
    condition     = contains([60, 600], var.flow_logs.max_aggregation_interval)
    error_message = "flow_logs.max_aggregation_interval must be 60 or 600 seconds."
  }

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs.retention_in_days)
    error_message = "flow_logs.retention_in_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ... 3653); 0 (never expire) is not allowed."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints from the private subnets (service suffix after com.amazonaws.<region>.). The defaults are what private EKS nodes need to join and pull images."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "sts", "ec2", "logs"]
}

variable "enable_s3_gateway_endpoint" {
  description = "Create the free S3 gateway endpoint on the private and intra route tables (ECR image layers and snapshot downloads stay off the NAT)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
