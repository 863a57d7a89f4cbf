"""Training: fine-tuning (`finetune`), pretraining and distillation, with their
shared configuration, schedule, batches and option checks."""
