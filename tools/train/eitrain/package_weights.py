"""Weights of a committed model package's ONNX files back into the training networks, so a later run can start
from a package (warm start) or measure it in Python without the --cache folder of the run that made it.
The exporter keeps torch's parameter names (net.body.0.weight, ...) for every initializer except the PReLU
slopes, which it stores reshaped to [C, 1, 1] under generated names in the order the PReLU layers come."""
import numpy as np
import torch


def load_onnx_weights(net, path):
    """Copies the initializers of an ONNX file exported by train.py into net (a nets.PNet / RNet / ONet /
    Classifier); raises ValueError naming the parameter when the file does not fit the network."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    named = {k[len("net."):]: v for k, v in inits.items() if k.startswith("net.")}
    prelu_slopes = [v for k, v in inits.items() if not k.startswith("net.")]
    state = net.state_dict()
    if any("running_mean" in k for k in state):
        # The exporter folds batch norm into the convolutions before it writes the graph (the classifier).
        raise ValueError(f"{path}: {type(net).__name__} has batch norm, which the export folded away; it cannot be read back")
    out, slopes = {}, iter(prelu_slopes)
    for name, tensor in state.items():
        if name in named:
            value = named[name]
        elif name.endswith(".weight") and tensor.dim() == 1:
            # A PReLU slope: the next generated initializer, [C, 1, 1] -> [C]
            value = next(slopes, None)
            if value is None:
                raise ValueError(f"{path}: no initializer for {name}")
            value = value.reshape(-1)
        else:
            raise ValueError(f"{path}: no initializer for {name}")
        if tuple(value.shape) != tuple(tensor.shape):
            raise ValueError(f"{path}: {name} has shape {tuple(value.shape)}, the network wants {tuple(tensor.shape)}")
        out[name] = torch.from_numpy(np.array(value, np.float32))
    net.load_state_dict(out)
    return net.eval()
