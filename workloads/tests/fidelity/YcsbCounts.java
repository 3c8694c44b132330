// Regenerates tests/data/ycsb-java-counts.txt from YCSB's own Java generators.
//
// Usage (YCSB core sources checked out at $YCSB; only Utils and the generators are needed):
//   mkdir -p /tmp/y && cp -r $YCSB/core/src/main/java/site /tmp/y/
//   javac -d /tmp/y/classes /tmp/y/site/ycsb/Utils.java /tmp/y/site/ycsb/generator/*.java \
//       tests/fidelity/YcsbCounts.java
//   java -cp /tmp/y/classes YcsbCounts > tests/data/ycsb-java-counts.txt
//
// Output: one block per case, "case <name> <draws> <bins>", then one count per line for
// keynums 0..bins-1. Keynums above the last loaded one are redrawn, as CoreWorkload.nextKeynum
// does.

import site.ycsb.Utils;
import site.ycsb.generator.AcknowledgedCounterGenerator;
import site.ycsb.generator.NumberGenerator;
import site.ycsb.generator.ScrambledZipfianGenerator;
import site.ycsb.generator.SkewedLatestGenerator;
import site.ycsb.generator.ZipfianGenerator;

public class YcsbCounts {
  static void emit(String name, NumberGenerator gen, int bins, long last, int draws) {
    long[] counts = new long[bins];
    for (int i = 0; i < draws; i++) {
      long k;
      do {
        k = gen.nextValue().longValue();
      } while (k > last);
      counts[(int) k]++;
    }
    System.out.println("case " + name + " " + draws + " " + bins);
    for (long c : counts) {
      System.out.println(c);
    }
  }

  public static void main(String[] args) {
    System.out.println("fnv " + Utils.fnvhash64(0) + " " + Utils.fnvhash64(1) + " "
        + Utils.fnvhash64(2) + " " + Utils.fnvhash64(3));
    // Workload A/B/C/F: recordcount=1000, insertproportion=0.
    emit("scrambled-0-1000", new ScrambledZipfianGenerator(0, 1000), 1000, 999, 10_000_000);
    // Workload E: operationcount=1000, insertproportion=0.05 -> expectednewkeys=100.
    emit("scrambled-0-1100", new ScrambledZipfianGenerator(0, 1100), 1000, 999, 10_000_000);
    // Workload D before any insert: SkewedLatest over AcknowledgedCounterGenerator(1000).
    emit("latest-1000", new SkewedLatestGenerator(new AcknowledgedCounterGenerator(1000)), 1000,
        999, 10_000_000);
    for (double theta : new double[] {0.5, 0.99, 1.2}) {
      emit("zipfian-0-99-" + theta, new ZipfianGenerator(0, 99, theta), 100, 99, 2_000_000);
    }
  }
}
