"""Model-based segments: customer groups (clustering) and scores (propensity, churn).

- spec: which features, algorithms and training knobs a model may have (validation);
- features / preprocess: feature matrices from traits and attributes, now or at a past
  cutoff, and the scikit-learn preprocessing that is part of every fitted Pipeline;
- labels: who bought / stayed after a cutoff (the targets, from events only);
- clustering / predictive: training, model selection and the evidence kept;
- registry: definitions, versions, activation, drift between versions (services), with
  artifacts (the fitted Pipeline as bytes) and drift (PSI);
- scoring / writer: every eligible profile scored in chunks into ProfileScore;
- charts, summaries, explain: SVG charts, cluster profiles and plain words kept with a
  version or given to the people scored;
- api, serializers, admin, receivers: the shells (HTTP, admin, consent and restriction).

Rules read the active version's outputs: {"model": "<slug>", "score": {"gte": 0.7}} and
{"model": "<slug>", "cluster": 2} (segments.rules).
"""
