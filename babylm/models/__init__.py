"""Model architectures, losses and the Lightning modules (teacher and distillation student)."""
