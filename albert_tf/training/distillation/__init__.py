"""Knowledge distillation: a teacher labels texts, an ALBERT student learns them."""
