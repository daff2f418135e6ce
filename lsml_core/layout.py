"""The names of the files in a results folder, in one place: the runner, the tracks and the notebooks write
them; the scheduler, the verifier, the progress line, the reports and the front page read them. It imports
nothing from the package, so that every module, however low, can name a file without loading another.

    results/                              the --results-dir
    ├── index.ipynb, index.html           the study's front page: notebook(STUDY_PAGE), rendered(STUDY_PAGE)
    ├── index.md, index_files/            the front page as Markdown and its figures: markdown(..), markdown_figures(..)
    ├── reported.json                     REPORTED: what the front page read and wrote (pipeline.up_to_date)
    ├── .locks/                           LOCKS: the front page's lock
    └── <profile>/                        a profile folder
        ├── profile.yaml                  PROFILE: the profile as it ran
        ├── environment.json              ENVIRONMENT: the code, the packages and the machine
        ├── summary.csv                   SUMMARY (multi-label): one row per run x split x metric
        ├── selection.json                GRID_CHOICE (single-label): the instance-based grid point chosen
        ├── headline.png, headline.html   HEADLINE_FIGURE, HEADLINE_TABLE: what the report leads with
        ├── answer.json                   ANSWER: what the front page shows of the profile
        ├── provenance.json               PROVENANCE: the revisions, threads and machines of its runs and report
        ├── index.html                    INDEX: the headline, links to every report, notebook and run
        ├── reported.json                 REPORTED: what the profile's notebooks read and wrote, to skip them when
        │                                 nothing changed (pipeline.up_to_date)
        ├── notebooks/                    NOTEBOOKS: the profile's notebooks, notebook(name) and rendered(name)
        ├── .locks/                       LOCKS: the locks on its shared steps and on each run (and who took it)
        ├── .trash/                       TRASH: run folders being deleted
        └── runs/                         RUNS
            └── <run>/                    a run folder
                ├── config.json           CONFIG: the run's configuration
                ├── environment.json      ENVIRONMENT
                ├── execution.json        EXECUTION: where, when and how long it last executed (not a result)
                ├── teacher.json          TEACHER_STAMP (a taught run): the teacher model it learnt from
                ├── pretrained.json       PRETRAINED (multi-label, fine-tuned): the stage it started from
                ├── label_noise.json      LABEL_NOISE (multi-label, noisy labels): how its labels were corrupted
                ├── pseudo_labels.npz     PSEUDO_LABELS (grouped): the pseudo-labels it trained on
                ├── pseudo_labels.json    PSEUDO_RECORD (grouped): how they were chosen
                ├── history.csv           HISTORY: one row per epoch
                ├── checkpoint_last.pt    CHECKPOINT: the last epoch, to resume from (finished: fit.finish_checkpoint)
                ├── model_best.pt         BEST_MODEL: the best epoch's model
                ├── metrics.json          METRICS: the evaluation
                ├── predictions_<split>.csv   predictions(split): one row per image
                ├── projection_test.npz   PROJECTION (single-label): features on the class-template plane
                ├── <notebook>.ipynb      notebook(name): the run's notebooks, executed
                ├── <notebook>.html       rendered(name)
                └── outputs.json          OUTPUTS: the size and SHA-256 of every file the run produced
"""

# the results folder
STUDY_PAGE = "index"

# a profile folder
PROFILE = "profile.yaml"
ENVIRONMENT = "environment.json"
SUMMARY = "summary.csv"
GRID_CHOICE = "selection.json"
HEADLINE_FIGURE = "headline.png"
HEADLINE_TABLE = "headline.html"
ANSWER = "answer.json"
PROVENANCE = "provenance.json"
INDEX = "index.html"
NOTEBOOKS = "notebooks"
LOCKS = ".locks"
TRASH = ".trash"
SHARING = ".sharing"  # in a profile folder: where a run computed for another profile is put together (pipeline.sharing)
RUNS = "runs"
REPORTED = "reported.json"  # in a profile or results folder: what its notebooks read and wrote (pipeline.up_to_date)
# a profile's files the reports and the front page read, besides the executed notebooks (pipeline.up_to_date)
PROFILE_WRITTEN = (SUMMARY, GRID_CHOICE, HEADLINE_FIGURE, HEADLINE_TABLE, ANSWER, PROVENANCE)

# a run folder
CONFIG = "config.json"
EXECUTION = "execution.json"
TEACHER_STAMP = "teacher.json"
PRETRAINED = "pretrained.json"
LABEL_NOISE = "label_noise.json"
PSEUDO_LABELS = "pseudo_labels.npz"
PSEUDO_RECORD = "pseudo_labels.json"
HISTORY = "history.csv"
CHECKPOINT = "checkpoint_last.pt"
BEST_MODEL = "model_best.pt"
METRICS = "metrics.json"
PROJECTION = "projection_test.npz"
OUTPUTS = "outputs.json"


def predictions(split: str) -> str:
    """A run's predictions on one split; `predictions("*")` matches every split's."""
    return f"predictions_{split}.csv"


def notebook(name: str) -> str:
    """A notebook's file, in notebooks/<track>/ and executed into a profile or run folder under the same name."""
    return f"{name}.ipynb"


def rendered(name: str) -> str:
    """An executed notebook's HTML page, beside it."""
    return f"{name}.html"


def markdown(name: str) -> str:
    """An executed notebook rendered as Markdown beside it (the front page, for a code-hosting site)."""
    return f"{name}.md"


def markdown_figures(name: str) -> str:
    """The folder of that Markdown's figures, beside it."""
    return f"{name}_files"
