"""Exact pad-skipping training for Embedding -> LSTM -> Dense classifiers over front-padded ids.

    history = fit(model, x_train, y_train, batch_size=128, epochs=10, validation_split=0.2, callbacks=[stop])

About 85% of the 400 steps of a padded review are the pad id 0. In a batch whose longest
real sequence is L, positions 0..maxlen-L-1 are padding in every row, so the LSTM state
after them is the same for all rows: we run that prefix once with a batch of one, broadcast
its (h, c) and run the batch over the last L positions only (the pads of shorter rows inside
that window are ordinary steps, as in Keras). Gradients flow back through the shared prefix
and sum over the batch, so loss and gradients equal Keras' on the padded batch; only float
rounding differs. Batches grouped by length keep L small. The model stays the plain Keras
model: we drive its own variables, compiled loss, metrics, optimizer and callbacks.
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

PAD_ID = 0
UNROLL = 4  # LSTM steps per while-loop turn


def unsupported_reason(model) -> str | None:
    """Why `model` cannot take the pad-skipping path, or None when it can."""
    from keras import layers

    kinds = [type(layer) for layer in model.layers]
    if kinds != [layers.Embedding, layers.LSTM, layers.Dense]:
        return "the model is not Embedding -> LSTM -> Dense"
    emb, lstm, dense = model.layers
    if emb.mask_zero:
        return "the embedding masks padding (mask_zero=True)"
    if getattr(emb, "lora_enabled", False):
        return "the embedding uses LoRA"
    if any(layer.dtype_policy.compute_dtype != "float32" for layer in model.layers):
        return "the model does not compute in float32"
    try:
        shape = model.inputs[0].shape
    except (AttributeError, TypeError, ValueError):  # a Sequential built without an Input
        shape = None
    if shape is None or len(shape) != 2 or shape[1] is None:
        return "the input length is not fixed"
    if lstm.return_sequences or lstm.go_backwards or lstm.stateful or not lstm.cell.use_bias:
        return "the LSTM is not a plain forward LSTM with bias returning its last state"
    if lstm.cell.dropout or lstm.cell.recurrent_dropout:
        return "the LSTM uses dropout"
    if dense.units != 1 and dense.get_config()["activation"] != "softmax":
        return "the head is neither a single unit nor a softmax"
    for layer in model.layers:
        for attr in ("activity_regularizer", "embeddings_regularizer", "kernel_regularizer",
                     "recurrent_regularizer", "bias_regularizer"):
            if getattr(layer, attr, None) is not None or getattr(getattr(layer, "cell", None), attr, None):
                return f"layer {layer.name!r} has a regularizer"
    if model.optimizer is None:
        return "the model is not compiled"
    return None


def real_lengths(x: np.ndarray) -> np.ndarray:
    """Steps from the first non-pad id to the end, per row of front-padded ids (0 for all-pad rows)."""
    nonpad = x != PAD_ID
    first = np.where(nonpad.any(axis=1), nonpad.argmax(axis=1), x.shape[1])
    return (x.shape[1] - first).astype(np.int64)


class PadSkipSteps:
    """Compiled train and test steps over the model's own variables, one trace for every length."""

    def __init__(self, model, unroll: int = UNROLL):
        import tensorflow as tf

        self.tf = tf
        self.model = model
        self.emb, self.lstm, self.dense = model.layers
        self.maxlen = int(model.inputs[0].shape[1])
        self.unroll = unroll
        self.loss_tracker = next(m for m in model.metrics if m.name == "loss")
        spec = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.float32)]
        self.train_step = tf.function(self._train_step, input_signature=spec)
        self.test_step = tf.function(self._test_step, input_signature=spec)

    def _cell_step(self, xk, h, c):
        """One LSTM step as keras.layers.LSTMCell (implementation 2) computes it, op for op."""
        tf, cell = self.tf, self.lstm.cell
        z = xk + tf.matmul(h, cell.recurrent_kernel)
        z = z + cell.bias
        z0, z1, z2, z3 = tf.split(z, 4, axis=1)
        i = cell.recurrent_activation(z0)
        f = cell.recurrent_activation(z1)
        c = f * c + i * cell.activation(z2)
        o = cell.recurrent_activation(z3)
        return o * cell.activation(c), c

    def _recur(self, xk_at, n, h, c):
        """`n` LSTM steps from (h, c), step t reading xk_at(t); `unroll` steps per loop turn, as fewer
        turns cost less loop and gradient bookkeeping than the tiny batch-of-one steps themselves."""
        tf, k = self.tf, self.unroll

        def turn(t, h, c):
            for j in range(k):
                h, c = self._cell_step(xk_at(t + j), h, c)
            return t + k, h, c

        t, h, c = tf.while_loop(lambda t, h, c: t + k <= n, turn, (tf.constant(0), h, c))
        if k > 1:  # the remaining n % k steps
            _, h, c = tf.while_loop(
                lambda t, h, c: t < n, lambda t, h, c: (t + 1, *self._cell_step(xk_at(t), h, c)), (t, h, c)
            )
        return h, c

    def _forward(self, ids):
        """(dense output, prefix inputs [P, D], window inputs [B, L, D]) for a window `ids` [B, L],
        the last L columns of the padded batch; P = maxlen - L."""
        tf, cell = self.tf, self.lstm.cell
        units = cell.units
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        table = self.emb.embeddings
        # The shared padding prefix, batch of one.
        x_pre = tf.broadcast_to(tf.gather(table, [PAD_ID]), [self.maxlen - length, tf.shape(table)[1]])
        xk_pre = tf.matmul(x_pre, cell.kernel)[:, None, :]
        prefix = tf.TensorArray(xk_pre.dtype, size=self.maxlen - length).unstack(xk_pre)
        zeros = tf.zeros([1, units], dtype=xk_pre.dtype)
        h, c = self._recur(prefix.read, self.maxlen - length, zeros, zeros)
        h = tf.broadcast_to(h, [batch, units])
        c = tf.broadcast_to(c, [batch, units])
        # The window: every input projection in one matmul, then the recurrence.
        x_win = tf.gather(table, ids)
        xk = tf.matmul(tf.reshape(x_win, [batch * length, -1]), cell.kernel)
        xk = tf.transpose(tf.reshape(xk, [batch, length, 4 * units]), [1, 0, 2])
        window = tf.TensorArray(xk.dtype, size=length).unstack(xk)
        h, c = self._recur(window.read, length, h, c)
        return self.dense(h), x_pre, x_win

    def forward(self, ids):
        """The model's output for a window `ids` [B, L] = the last L columns of the padded batch."""
        return self._forward(ids)[0]

    def gradients(self, ids, y):
        """(y_pred, loss, gradients in trainable_weights order).

        The embedding's gradient is IndexedSlices with one slice per id occurrence, as Keras' own
        gather gives it: Keras' Adam squares the slices before summing them, so the split matters.
        The prefix gives one slice per position, already summed over the batch (only there, for the
        pad id, does the second moment differ from fit()'s).
        """
        tf, model = self.tf, self.model
        table = self.emb.embeddings
        with tf.GradientTape() as tape:
            y_pred, x_pre, x_win = self._forward(ids)
            # The compiled loss sees the Sigmoid (Softmax) op, so it works from logits exactly as in fit().
            loss = model.compute_loss(y=y, y_pred=y_pred, training=True)
            scaled = model.optimizer.scale_loss(loss)
        weights = model.trainable_weights
        at = next(i for i, w in enumerate(weights) if w is table)
        d_pre, d_win, *grads = tape.gradient(scaled, [x_pre, x_win, *weights[:at], *weights[at + 1:]])
        slices = tf.IndexedSlices(
            tf.concat([d_pre, tf.reshape(d_win, [-1, tf.shape(d_win)[2]])], axis=0),
            tf.concat([tf.fill(tf.shape(d_pre)[:1], PAD_ID), tf.reshape(ids, [-1])], axis=0),
            tf.shape(table),
        )
        grads.insert(at, slices)
        return y_pred, loss, grads

    def _train_step(self, ids, y):
        model = self.model
        y_pred, loss, grads = self.gradients(ids, y)
        self.loss_tracker.update_state(loss, sample_weight=self.tf.shape(ids)[0])
        model.optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return model.compute_metrics(ids, y, y_pred, sample_weight=None)

    def _test_step(self, ids, y):
        y_pred = self.forward(ids)
        loss = self.model.compute_loss(y=y, y_pred=y_pred, training=False)
        self.loss_tracker.update_state(loss, sample_weight=self.tf.shape(ids)[0])
        return self.model.compute_metrics(ids, y, y_pred, sample_weight=None)

    def window(self, x: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The last L columns of `rows`, L = their longest real length (at least 1)."""
        length = max(int(lengths[rows].max()), 1)
        return np.ascontiguousarray(x[rows, self.maxlen - length:])


def keras_batch_order(n: int, batch_size: int):
    """A function giving each epoch's batches of row indices exactly as fit() shuffles them.

    Uses the array adapter fit() uses, so the seeded shuffle draws the same permutation (with a
    global seed set it is the same one every epoch, in fit() as here).
    """
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    dataset = ArrayDataAdapter(np.arange(n), batch_size=batch_size, shuffle=True).get_tf_dataset()

    def epoch():
        for batch in dataset:
            yield np.asarray(batch[0] if isinstance(batch, tuple) else batch)

    return epoch


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Rows grouped by length into batches (ties broken at random), in a random batch order."""
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def prepare(model) -> PadSkipSteps:
    """Build the optimizer, loss and metrics eagerly (fit() does this too), then the steps."""
    import tensorflow as tf

    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    probe = tf.zeros([1, int(model.inputs[0].shape[1])], tf.int32)
    y_probe = tf.zeros([1], tf.float32)
    y_pred = model(probe)
    model.compute_loss(y=y_probe, y_pred=y_pred)
    model.compute_metrics(probe, y_probe, y_pred, None)
    model.reset_metrics()
    return PadSkipSteps(model)


def run_epoch(steps: PadSkipSteps, step_fn, x, y, lengths, batches, callbacks=None) -> dict:
    """Run `step_fn` over `batches` with Keras' metric bookkeeping; the logs after the last batch."""
    steps.model.reset_metrics()
    logs = {}
    for i, rows in enumerate(batches):
        if callbacks is not None:
            callbacks.on_train_batch_begin(i)
        out = step_fn(steps.window(x, lengths, rows), y[rows])
        logs = {k: float(v) for k, v in out.items()}
        if callbacks is not None:
            callbacks.on_train_batch_end(i, logs)
            if steps.model.stop_training:
                break
    return logs


def fit(model, x, y, *, batch_size: int = 32, epochs: int = 1, validation_split: float = 0.0,
        callbacks=None, verbose: int = 1, bucketing: bool = True, seed: int = 0):
    """model.fit(x, y, ...) with pad-skipping steps; returns the History. Falls back to fit() when unsupported."""
    reason = unsupported_reason(model)
    if reason is not None:
        log.warning(f"classifier: pad-skipping fit does not apply ({reason}); using plain Keras fit")
        return model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=validation_split,
                         callbacks=callbacks, verbose=verbose)

    from keras import callbacks as callbacks_module

    x = np.asarray(x, dtype=np.int32)
    y = np.asarray(y, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != model.inputs[0].shape[1] or y.shape != (len(x),):
        raise ValueError(f"need ids of shape (n, {model.inputs[0].shape[1]}) and n labels, got {x.shape}, {y.shape}")
    # fit(validation_split=...) holds out the LAST rows, before any shuffling.
    split_at = int(math.floor(len(x) * (1.0 - validation_split))) if validation_split else len(x)
    x_train, y_train, x_val, y_val = x[:split_at], y[:split_at], x[split_at:], y[split_at:]
    len_train, len_val = real_lengths(x_train), real_lengths(x_val)

    steps = prepare(model)
    if bucketing:
        rng = np.random.default_rng(seed)

        def epoch_batches():
            return bucketed_batches(len_train, batch_size, rng)
    else:
        epoch_batches = keras_batch_order(len(x_train), batch_size)
    val_batches = sorted_batches(len_val, batch_size)

    cbs = callbacks_module.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose, epochs=epochs,
        steps=math.ceil(len(x_train) / batch_size), model=model,
    )
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs = {}
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        epoch_logs = run_epoch(steps, steps.train_step, x_train, y_train, len_train, epoch_batches(), cbs)
        if len(x_val):
            val = run_epoch(steps, steps.test_step, x_val, y_val, len_val, val_batches)
            epoch_logs.update({f"val_{k}": v for k, v in val.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs=epoch_logs)
    return model.history
