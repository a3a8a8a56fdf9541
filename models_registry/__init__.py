"""Supervised forecasting models: registry, training, champion/challenger gate, monitors, ROI."""
