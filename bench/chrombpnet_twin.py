"""A PyTorch twin of ``tests.bpnet_net.chrombpnet_like`` (for the
tangermeme and captum peers of workload (e)).

``build_twin(keras_model, head)``: an ``nn.Module`` taking (N, 4, L)
channels-first one-hot input and returning the counts head, (N, 1), for
``head="counts"``.  Every ReLU is its own ``nn.ReLU`` module (tangermeme and
captum hook modules); cropping and the residual additions are linear.
Needs torch (the ``peers`` extra); imported inside the function.
"""
import numpy as np


def build_twin(keras_model, head="counts"):
    import torch
    from torch import nn

    if head != "counts":
        raise ValueError("only the counts head has a twin")

    def conv(layer):
        kernel, bias = layer.get_weights()
        width, c_in, c_out = kernel.shape
        cfg = layer.get_config()
        dilation = int(np.atleast_1d(cfg["dilation_rate"])[0])
        mod = nn.Conv1d(c_in, c_out, width, dilation=dilation)
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(
                np.transpose(kernel, (2, 1, 0)))))
            mod.bias.copy_(torch.from_numpy(bias))
        return mod

    names = [l.name for l in keras_model.layers]
    num_dilated = sum(1 for n in names if n.startswith("bpnet_")
                      and n.endswith("_conv") and n != "bpnet_1st_conv")

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = conv(keras_model.get_layer("bpnet_1st_conv"))
            self.first_relu = nn.ReLU()
            self.convs = nn.ModuleList([
                conv(keras_model.get_layer("bpnet_%d_conv" % i))
                for i in range(1, num_dilated + 1)])
            self.relus = nn.ModuleList([nn.ReLU()
                                        for _ in range(num_dilated)])
            dense = keras_model.get_layer("logcounts")
            kernel, bias = dense.get_weights()
            self.dense = nn.Linear(kernel.shape[0], kernel.shape[1])
            with torch.no_grad():
                self.dense.weight.copy_(torch.from_numpy(
                    np.ascontiguousarray(kernel.T)))
                self.dense.bias.copy_(torch.from_numpy(bias))

        def forward(self, x):
            h = self.first_relu(self.first(x))
            for conv_mod, relu in zip(self.convs, self.relus):
                c = relu(conv_mod(h))
                crop = (h.shape[-1] - c.shape[-1]) // 2
                h = c + h[:, :, crop:crop + c.shape[-1]]
            return self.dense(h.mean(dim=-1))

    return Twin().eval()
