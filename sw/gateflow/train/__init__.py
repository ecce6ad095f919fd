"""Training: the configuration, the logic-gate loop, the threshold loop, data-parallel runs,
and export of a trained model to the IR."""
