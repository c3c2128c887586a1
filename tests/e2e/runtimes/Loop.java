// The Java copy loops of issue 11, one JVM for all: `loop` FileInputStream.read(byte[65536])
// + OutputStream.write; `xfer` InputStream.transferTo (8 KiB). usage: java Loop (MODE FILE PORT)...
import java.io.*; import java.net.*;
public class Loop {
  public static void main(String[] a) throws Exception {
    for (int i = 0; i + 2 < a.length; i += 3) {
      try (Socket s = new Socket("127.0.0.1", Integer.parseInt(a[i+2]));
           OutputStream out = s.getOutputStream();
           FileInputStream in = new FileInputStream(a[i+1])) {
        if (a[i].equals("loop")) { byte[] b = new byte[65536]; int n; while ((n = in.read(b)) > 0) out.write(b, 0, n); }
        else in.transferTo(out);
      }
    }
  }
}
