"""Fast inference for RGP's regular block masks: find the block structure of each masked layer, build equivalent
fast forms (gather + grouped conv / bmm, tap-sum under torch.compile, a C++ block-sparse direct convolution), and
swap in whichever is measured fastest on the run's device, batch size and thread count (:func:`materialise`).
"""

from rgp_bench.speedup.end_to_end import EndToEnd, compile_frozen, dense_copy, folded_copy, measure_end_to_end
from rgp_bench.speedup.errors import FormUnavailable
from rgp_bench.speedup.forms import DEFAULT_FORMS, FORMS, MASKED, UNCOMPILED_FORMS, Form, bake_mask
from rgp_bench.speedup.kernel import KernelStatus, kernel_status, load_kernel
from rgp_bench.speedup.materialise import CandidateTimer, interleaved_timer, materialise, relative_error
from rgp_bench.speedup.packing import Packing, pack_blocks
from rgp_bench.speedup.report import CandidateResult, LayerReport, MaterialiseReport
from rgp_bench.speedup.structure import BlockStructure, NotBlockStructured, OutputGroup, analyse_mask, channel_mask

__all__ = [
    "DEFAULT_FORMS",
    "FORMS",
    "MASKED",
    "UNCOMPILED_FORMS",
    "BlockStructure",
    "CandidateResult",
    "CandidateTimer",
    "EndToEnd",
    "Form",
    "FormUnavailable",
    "KernelStatus",
    "LayerReport",
    "MaterialiseReport",
    "NotBlockStructured",
    "OutputGroup",
    "Packing",
    "analyse_mask",
    "bake_mask",
    "channel_mask",
    "compile_frozen",
    "dense_copy",
    "folded_copy",
    "interleaved_timer",
    "kernel_status",
    "load_kernel",
    "materialise",
    "measure_end_to_end",
    "pack_blocks",
    "relative_error",
]
