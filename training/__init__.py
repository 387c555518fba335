"""Training-data ETL and the LoRA retraining loop."""
