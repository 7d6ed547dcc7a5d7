"""Tests of the domains layer: ``mentor_env.domains``, ``mentor_env.external``, registration and the structured wrapper."""
