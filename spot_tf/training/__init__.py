"""Training: the autoencoder and spot phases as Keras train_steps under tf.distribute."""
