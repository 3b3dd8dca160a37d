"""The staged rollout controller: plans, peeking-safe gates, a leased controller, its store."""
