"""Write-side services of the core domain."""
