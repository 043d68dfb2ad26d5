"""Images/s of the training DataLoader over a built split, with and without SimCLR augmentation.

Each row loads the split through ``TwoViews(size, augment)`` (both agents' views of each image)
in shuffled batches, as training does, and reports images/s over whole passes after one warm-up
pass (which starts the workers and fills the page cache). The last two columns split one item's
cost, measured in this process: decoding the file vs. making the two views; they show where a
faster loader would have to save. The training step's images/s comes from benchmarks/train_step.py.

    python benchmarks/data_loader.py --root resources/datasets/stamps --size 32 --batch 64 --workers 2
"""

from __future__ import annotations

import argparse
import time

import torch

from emcom.data.folder import ImageFolderDataset, load_rgb
from emcom.data.transforms import TwoViews


def loader_images_per_second(dataset, batch: int, workers: int, passes: int) -> float:
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0),
    )
    for _ in loader:  # warm-up pass
        pass
    images, start = 0, time.perf_counter()
    for _ in range(passes):
        for (view_a, _view_b), _labels in loader:
            images += len(view_a)
    return images / (time.perf_counter() - start)


def item_costs_ms(dataset: ImageFolderDataset, views: TwoViews, items: int = 300) -> tuple[float, float]:
    """(decode ms, two-views ms) per image, averaged over the first ``items`` files, one process."""
    paths = [sample.path for sample in dataset.samples[:items]]
    start = time.perf_counter()
    images = [load_rgb(path) for path in paths]
    decode = (time.perf_counter() - start) / len(paths)
    start = time.perf_counter()
    for image in images:
        views(image)
    return 1e3 * decode, 1e3 * (time.perf_counter() - start) / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="resources/datasets/stamps", help="a built dataset folder")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=int, default=32, help="image side given to TwoViews")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--passes", type=int, default=2, help="timed passes over the split")
    args = parser.parse_args()
    torch.set_num_threads(1)  # workers do the work; as in training, one thread each

    print(f"{args.root}/{args.split}, size {args.size}, batch {args.batch}, {args.workers} workers")
    print(f"{'augment':<8} {'images/s':>9} {'decode ms':>10} {'views ms':>9}")
    for augment in (True, False):
        views = TwoViews(args.size, augment=augment)
        dataset = ImageFolderDataset(args.root, args.split, transform=views)
        rate = loader_images_per_second(dataset, args.batch, args.workers, args.passes)
        decode, transform = item_costs_ms(dataset, views)
        print(f"{str(augment):<8} {rate:>9.0f} {decode:>10.3f} {transform:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
