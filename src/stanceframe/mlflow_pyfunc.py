"""The MLflow pyfunc model of a stanceframe model folder, logged as *code* (MLflow's
models-from-code), so logging and loading never pickle anything.

``mlflow.pyfunc.load_model(uri).predict(df)`` takes a DataFrame with a ``text`` column (the
signature MLflow infers from the logged input example requires it: a bare list of strings is
refused by MLflow's schema check before it gets here) and returns a DataFrame with, per row,
every task's label and the ``p_<task>_<label>`` probabilities: the same columns as
``stanceframe tag --unit record``. A target-aware model (manifest ``target_field``) also
reads that column of the DataFrame. ``StanceframePyfunc.predict`` itself, called directly,
also takes a dict with a ``text`` list or a list of strings.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class StanceframePyfunc(PythonModel):
    def load_context(self, context):
        from stanceframe.models.bundle import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    # The DataFrame annotation is one MLflow infers no schema from: input is taken as it comes
    # (DataFrame, dict or list, handled below), without MLflow's advice to add type hints.
    def predict(self, context, model_input: pd.DataFrame, params=None):
        target = self.bundle.target_field  # a target-aware model reads that column too
        if isinstance(model_input, pd.DataFrame):
            column = "text" if "text" in model_input.columns else model_input.columns[0]
            texts = model_input[column].astype(str).tolist()
            if target and target in model_input.columns:
                texts = list(zip(model_input[target].astype(str).tolist(), texts))
        elif isinstance(model_input, dict):
            texts = [str(t) for t in model_input.get("text", [])]
        else:
            texts = [str(t) for t in model_input]
        return pd.DataFrame(self.bundle.predict_flat(texts))


mlflow.models.set_model(StanceframePyfunc())
