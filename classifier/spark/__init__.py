"""Score review tables on Apache Spark: the rows, columns and numbers of `classifier score`, on a cluster.

    classifier score reviews.csv exports/ --spark "local[2]" -o scored/       # a folder of part files
    scored = score_dataframe(spark.read.parquet("s3a://lake/reviews/"), "saved_models/default")

`score_dataframe` is a lazy transformation: every input column as it was, plus recommend_proba
(double, null for an empty text), recommend (int, null for an empty text) and status, the values
`classifier score` writes (the same `recommendations()`, rounded to 6 decimals). Only the text column
goes to Python, in Arrow batches, through a pandas UDF (what pyspark.ml's predict_batch_udf wraps):
the other columns stay in the JVM, their types untouched. Executors run the NumPy engine and never
import TensorFlow. The bundle travels as a zip (`SparkContext.addArchive`; `addFile` refuses a
local folder on a cluster), is unpacked once per executor, and is loaded and hash-checked once per
Python worker (`classifier.bundle.load`), never pickled into the closure. pyspark is imported in
this package only, inside functions, so `import classifier` stays light.

    session.py    pyspark, Java and the master checked; the quiet session; Spark's errors in one line
    shipping.py   the bundle (and on a cluster this package) sent to executors
    reading.py    inputs expanded and read (formats from classifier.io.inputs, shared with local score)
    scoring.py    score_dataframe: the pandas UDF and its status counts
    writing.py    the output folder, CSV or Parquet
    run.py        score_on_spark: the `classifier score --spark` command
"""

from classifier.spark.reading import expand_inputs, line_separator, read_inputs
from classifier.spark.run import SparkSummary, score_on_spark
from classifier.spark.scoring import StatusCounts, score_dataframe
from classifier.spark.session import spark_errors, start_session
from classifier.spark.writing import write

__all__ = ["SparkSummary", "StatusCounts", "expand_inputs", "line_separator", "read_inputs", "score_dataframe",
           "score_on_spark", "spark_errors", "start_session", "write"]
