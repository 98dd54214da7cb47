"""What the unsupervised phases and transfer share to train: the original's Adam and learning-rate
policy, bias-gradient multiplier, slim L2 and the weight moving average."""
