"""deepmarkets.models: latent-variable markets, inference, natural latents, agent economies."""
