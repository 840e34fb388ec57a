"""Optimizers, schedules and gradient transforms (seed 002 优化算法, 学习率衰减, 梯度截断)."""
