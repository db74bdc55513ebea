"""Pulumi program components: settings, inventory, routing plan, Lambda services, alarms, IAM and packaging.

The pure modules (`inventory`, `settings`, `alarms`, `routing`'s plan functions) need no Pulumi engine, so the
operations tooling and the tests import them directly (routing contract §1).
"""
