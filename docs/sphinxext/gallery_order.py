"""Order of the gallery: the quick start first, then the topics as the user guide has them."""

ORDER = [
    "plot_quickstart.py",
    "plot_contamination.py",
    "plot_conformal.py",
    "plot_grid_search.py",
    "plot_feature_scores.py",
    "plot_training_curves.py",
    "plot_nab_machine_temperature.py",
    "plot_digits_likelihood.py",
    "plot_adversarial_digits.py",
]


class ExampleOrder:
    """sphinx-gallery sort key; examples not in ``ORDER`` follow, by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in ORDER:
            return (ORDER.index(filename), filename)
        return (len(ORDER), filename)

    def __repr__(self):
        return f"<{self.__class__.__name__}: {ORDER}>"
