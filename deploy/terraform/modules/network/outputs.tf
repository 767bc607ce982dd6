output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (the 'inside the VPC' source for RPC and metrics ingress)."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "Availability zones the subnets span, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnet IDs, one per AZ (internet-facing ALB/NLB, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnet IDs, one per AZ (worker nodes, pods, internal load balancers)."
  value       = aws_subnet.private[*].id
}

output "intra_subnet_ids" {
  description = "Intra subnet IDs, one per AZ, no internet route (EKS control-plane ENIs)."
  value       = aws_subnet.intra[*].id
}

output "subnet_cidrs" {
  description = "Subnet CIDRs by tier (public, private, intra), one per AZ."
  value       = local.subnet_cidrs
}

output "nat_gateway_count" {
  description = "Number of NAT gateways (az_count, 1 or 0 by nat_gateway_mode)."
  value       = local.nat_count
}

output "nat_public_ips" {
  description = "Elastic IPs of the NAT gateways: the source address of outbound traffic from private subnets (allow-list these at RPC providers)."
  value       = aws_eip.nat[*].public_ip
}

output "private_route_table_ids" {
  description = "Route table IDs of the private subnets, one per AZ."
  value       = aws_route_table.private[*].id
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs (null when disabled)."
  value       = one(aws_cloudwatch_log_group.flow_logs[*].name)
}

output "interface_endpoint_ids" {
  description = "Interface VPC endpoint IDs by service."
  value       = { for k, v in aws_vpc_endpoint.interface : k => v.id }
}
