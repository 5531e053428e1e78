package config

func validate(b *builder, c *Config) {}
